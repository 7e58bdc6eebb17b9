/**
 * Importing this module registers every built-in collect component. Each component registers itself
 * in its own file; this list only makes sure the files are loaded.
 */
import './channels/memory.js';
import './processors/default.js';
import './processors/failover.js';
import './processors/load-balance.js';
