import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveComponent } from '../../core/config/component.js';
import '../builtins.js';

describe('source registrations', () => {
  it('resolves every source by its short type and by Flume class name, case-insensitively', () => {
    const names: Array<[string, string]> = [
      ['spooldir', 'org.apache.flume.source.SpoolDirectorySource'],
      ['netcat', 'org.apache.flume.source.NetcatSource'],
      ['netcatudp', 'org.apache.flume.source.NetcatUdpSource'],
      ['syslogtcp', 'org.apache.flume.source.SyslogTcpSource'],
      ['syslogudp', 'org.apache.flume.source.SyslogUDPSource'],
      ['multiport_syslogtcp', 'org.apache.flume.source.MultiportSyslogTCPSource'],
      ['http', 'org.apache.flume.source.http.HTTPSource'],
    ];
    for (const [type, fqcn] of names) {
      const a = resolveComponent('source', type.toUpperCase());
      const b = resolveComponent('source', fqcn);
      assert.ok('spec' in a && 'spec' in b, type);
      assert.equal(a.spec, b.spec);
      assert.equal(a.spec.type, type);
    }
  });
});
