// Round-trip check of the headrace-hbase test image through HBase's Java client:
//   java -cp '/opt/hbase/conf:/opt/hbase/lib/*' /opt/hbase/HeadraceHBaseCheck.java TABLE ROW VALUE
// creates TABLE (family "cf") unless it exists, puts cf:q=VALUE into ROW, reads it
// back and prints it. Run in source-file mode, so the image needs no JDK.
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.HBaseConfiguration;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Admin;
import org.apache.hadoop.hbase.client.ColumnFamilyDescriptorBuilder;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.ConnectionFactory;
import org.apache.hadoop.hbase.client.Get;
import org.apache.hadoop.hbase.client.Put;
import org.apache.hadoop.hbase.client.Table;
import org.apache.hadoop.hbase.client.TableDescriptorBuilder;
import org.apache.hadoop.hbase.util.Bytes;

public class HeadraceHBaseCheck {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: HeadraceHBaseCheck TABLE ROW VALUE");
            System.exit(2);
        }
        Configuration conf = HBaseConfiguration.create();
        TableName name = TableName.valueOf(args[0]);
        byte[] cf = Bytes.toBytes("cf");
        byte[] q = Bytes.toBytes("q");
        try (Connection conn = ConnectionFactory.createConnection(conf);
             Admin admin = conn.getAdmin()) {
            if (!admin.tableExists(name)) {
                admin.createTable(TableDescriptorBuilder.newBuilder(name)
                        .setColumnFamily(ColumnFamilyDescriptorBuilder.of(cf)).build());
            }
            try (Table table = conn.getTable(name)) {
                table.put(new Put(Bytes.toBytes(args[1])).addColumn(cf, q, Bytes.toBytes(args[2])));
                byte[] got = table.get(new Get(Bytes.toBytes(args[1]))).getValue(cf, q);
                System.out.println(got == null ? "<none>" : Bytes.toString(got));
            }
        }
    }
}
