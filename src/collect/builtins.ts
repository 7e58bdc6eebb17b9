/**
 * Importing this module registers every built-in collect component. Each component registers itself
 * in its own file; this list only makes sure the files are loaded.
 */
import './channels/memory.js';
import './sources/seq.js';
import './unavailable.js';
import './sources/thrift.js';
import './sinks/thrift.js';
import './channels/file.js';
import './channels/bus.js';
import './sources/taildir/source.js';
import './sources/exec.js';
import './sources/spooldir.js';
import './sources/netcat.js';
import './sources/syslog.js';
import './sources/http.js';
import './sinks/logger.js';
import './sinks/null.js';
import './sinks/file_roll.js';
import './sinks/hdfs.js';
import './sinks/bus.js';
import './sources/bus.js';
import './interceptors/timestamp.js';
import './interceptors/host.js';
import './interceptors/static.js';
import './interceptors/regex_filter.js';
import './interceptors/regex_extractor.js';
import './interceptors/search_replace.js';
import './interceptors/remove_header.js';
import './interceptors/uuid.js';
import './interceptors/body_prefix.js';
import './selectors/replicating.js';
import './selectors/multiplexing.js';
import './processors/default.js';
import './processors/failover.js';
import './processors/load-balance.js';
import '../store/kv/sink.js';
import '../store/postgres/sink.js';
import '../store/clickhouse/sink.js';
import '../store/files/sink.js';
