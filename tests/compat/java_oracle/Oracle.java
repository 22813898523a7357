// Apache Avro Java as an oracle for esgen.compat (run by test_compat_java_oracle.py).
//
// Reads a JSON list of {"name", "previous": [...], "new"} and prints one JSON line per case with
// the verdict in each Confluent mode, decided the way Confluent Schema Registry and Apicurio do:
// the new schema is parsed with default validation on (an exception = invalid in every mode),
// the previous ones without, and SchemaCompatibility.checkReaderWriterCompatibility compares
// new (reader) with old (writer) for BACKWARD and old (reader) with new (writer) for FORWARD.
//
// Usage: java -cp AVRO_AND_JACKSON_JARS Oracle.java CASES.json
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;

public class Oracle {
  private static final String[] MODES = {
    "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL",
    "FULL_TRANSITIVE"
  };

  private static boolean canRead(Schema reader, Schema writer) {
    try {
      return SchemaCompatibility.checkReaderWriterCompatibility(reader, writer).getType()
          == SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE;
    } catch (RuntimeException e) { // e.g. a reader field alias matching two writer fields
      return false;
    }
  }

  private static Schema parse(ObjectMapper json, JsonNode schema, boolean validateDefaults) {
    try {
      return new Schema.Parser().setValidateDefaults(validateDefaults)
          .parse(json.writeValueAsString(schema));
    } catch (Exception e) {
      return null;
    }
  }

  public static void main(String[] args) throws Exception {
    ObjectMapper json = new ObjectMapper();
    for (JsonNode c : json.readTree(new File(args[0]))) {
      Schema created = parse(json, c.get("new"), true);
      List<Schema> previous = new ArrayList<>();
      for (JsonNode p : c.get("previous")) {
        previous.add(parse(json, p, false));
      }
      Map<String, Boolean> verdicts = new LinkedHashMap<>();
      for (String mode : MODES) {
        boolean ok = created != null;
        if (ok && !mode.equals("NONE") && !previous.isEmpty()) {
          List<Schema> versions = mode.endsWith("_TRANSITIVE")
              ? previous : Collections.singletonList(previous.get(previous.size() - 1));
          for (Schema old : versions) {
            ok &= old != null;
            if (ok && !mode.startsWith("FORWARD")) ok &= canRead(created, old);
            if (ok && !mode.startsWith("BACKWARD")) ok &= canRead(old, created);
          }
        }
        verdicts.put(mode, ok);
      }
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("name", c.get("name").asText());
      line.put("verdicts", verdicts);
      System.out.println(json.writeValueAsString(line));
    }
  }
}
