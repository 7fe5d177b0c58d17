// Adds the ACLs read from standard input — one `<principal> <operation> <resource type> <name>` per line,
// as `medic kafka acls --format lines` prints them — through Kafka's Admin API, in one call and one JVM
// (the broker's jars carry no kafka-acls tool). The administrator's client properties are in the file
// named by the only argument. Run from source (Java 11+):
//   java -cp "$(scripts/kafka-up.sh --install)/libs/*" scripts/kafka/AclApply.java admin.properties
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class AclApply {
    public static void main(String[] args) throws Exception {
        Properties properties = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            properties.load(in);
        }
        List<AclBinding> bindings = new ArrayList<>();
        BufferedReader lines = new BufferedReader(new InputStreamReader(System.in));
        for (String line = lines.readLine(); line != null; line = lines.readLine()) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.trim().split("\\s+");
            if (f.length != 4) {
                throw new IllegalArgumentException("expected `<principal> <operation> <type> <name>`: " + line);
            }
            ResourceType type = ResourceType.fromString(f[2]);
            AclOperation operation = AclOperation.fromString(f[1]);
            if (type == ResourceType.UNKNOWN || operation == AclOperation.UNKNOWN) {
                throw new IllegalArgumentException("unknown resource type or operation: " + line);
            }
            bindings.add(new AclBinding(
                new ResourcePattern(type, f[3], PatternType.LITERAL),
                new AccessControlEntry(f[0], "*", operation, AclPermissionType.ALLOW)));
        }
        try (Admin admin = Admin.create(properties)) {
            admin.createAcls(bindings).all().get();
        }
        System.out.println("added " + bindings.size() + " ACLs");
    }
}
