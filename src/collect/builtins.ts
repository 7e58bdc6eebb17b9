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
import './sources/taildir/source.js';
import './sources/exec.js';
import './sources/spooldir.js';
import './sources/netcat.js';
import './sources/syslog.js';
import './sources/http.js';
