import { Command } from 'commander';
import type { TopicDescription } from '../bus/bus.js';
import { positiveInt, retention, withBus } from './bus-session.js';

/** `monsoon topic create|describe|list|delete --bus <url>` — topic administration. */
interface TopicOpts {
  bus: string;
  topic?: string;
}

const busOption = ['--bus <url>', 'the bus: a directory (embedded log), file:<path>, or monsoon:// kafka:// nats:// redis:// URL'] as const;

function topicName(o: TopicOpts, positional: string | undefined): string {
  const t = positional ?? o.topic;
  if (!t) throw new Error('name the topic: --topic <name>');
  return t;
}

export function formatTopic(d: TopicDescription): string {
  const lines = [`topic ${d.name}  partitions ${d.partitions.length}  retention.ms ${d.retentionMs}  retention.bytes ${d.retentionBytes}`];
  for (const p of d.partitions) lines.push(`  partition ${p.partition}  earliest ${p.earliest}  latest ${p.latest}`);
  return lines.join('\n') + '\n';
}

export function topicCommand(): Command {
  const cmd = new Command('topic').description('create, describe, list and delete bus topics');
  cmd
    .command('create')
    .description('create a topic')
    .argument('[name]', 'topic name (or --topic)')
    .requiredOption(...busOption)
    .option('--topic <name>', 'topic name')
    .option('--partitions <n>', 'number of partitions', '1')
    .option('--retention-ms <ms>', 'delete whole segments older than this (-1: keep)')
    .option('--retention-bytes <bytes>', 'delete old segments while a partition is larger than this (-1: no limit)')
    .action(async (name: string | undefined, o: TopicOpts & { partitions: string; retentionMs?: string; retentionBytes?: string }) => {
      await withBus(o.bus, async (bus) => {
        const t = topicName(o, name);
        await bus.admin.createTopic(t, {
          partitions: positiveInt('--partitions', o.partitions)!,
          retentionMs: retention('--retention-ms', o.retentionMs),
          retentionBytes: retention('--retention-bytes', o.retentionBytes),
        });
        process.stderr.write(`created topic ${t}\n`);
      });
    });
  cmd
    .command('describe')
    .description('print a topic’s partitions (earliest and latest offsets) and retention')
    .argument('[name]', 'topic name (or --topic)')
    .requiredOption(...busOption)
    .option('--topic <name>', 'topic name')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, o: TopicOpts & { json?: boolean }) => {
      await withBus(o.bus, async (bus) => {
        const d = await bus.admin.describeTopic(topicName(o, name));
        process.stdout.write(o.json ? JSON.stringify(d) + '\n' : formatTopic(d));
      });
    });
  cmd
    .command('list')
    .description('list topics, one per line')
    .requiredOption(...busOption)
    .action(async (o: TopicOpts) => {
      await withBus(o.bus, async (bus) => {
        for (const t of await bus.admin.listTopics()) process.stdout.write(`${t}\n`);
      });
    });
  cmd
    .command('delete')
    .description('delete a topic, its records and the groups’ offsets for it')
    .argument('[name]', 'topic name (or --topic)')
    .requiredOption(...busOption)
    .option('--topic <name>', 'topic name')
    .action(async (name: string | undefined, o: TopicOpts) => {
      await withBus(o.bus, async (bus) => {
        const t = topicName(o, name);
        await bus.admin.deleteTopic(t);
        process.stderr.write(`deleted topic ${t}\n`);
      });
    });
  return cmd;
}

export { busOption };
