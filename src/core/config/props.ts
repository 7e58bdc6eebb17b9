import { z } from 'zod';

/**
 * Property types for component schemas. Flume properties files give every value as a string; YAML
 * configs give numbers and booleans. Each helper accepts both and reports what it expected.
 */

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function toNumber(v: unknown): unknown {
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim());
    return Number.isNaN(n) ? v : n;
  }
  return v;
}

function toBool(v: unknown): unknown {
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  return v;
}

function intSchema(min: number, max: number) {
  return z.preprocess(
    toNumber,
    z.any().superRefine((v, ctx) => {
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        ctx.addIssue({ code: 'custom', message: `expected an integer, got ${describe(v)}` });
      } else if (v < min || v > max) {
        ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max}, got ${v}` });
      }
    }),
  ) as unknown as z.ZodType<number>;
}

export const prop = {
  int(def: number, min = 0, max = Number.MAX_SAFE_INTEGER): z.ZodType<number> {
    return intSchema(min, max).default(def) as unknown as z.ZodType<number>;
  },
  requiredInt(min = 0, max = Number.MAX_SAFE_INTEGER): z.ZodType<number> {
    return intSchema(min, max);
  },
  optionalInt(min = 0, max = Number.MAX_SAFE_INTEGER): z.ZodType<number | undefined> {
    return intSchema(min, max).optional();
  },
  bool(def: boolean): z.ZodType<boolean> {
    return z
      .preprocess(
        toBool,
        z.any().superRefine((v, ctx) => {
          if (typeof v !== 'boolean') ctx.addIssue({ code: 'custom', message: `expected true or false, got ${describe(v)}` });
        }),
      )
      .default(def) as unknown as z.ZodType<boolean>;
  },
  string(def: string): z.ZodType<string> {
    return z.preprocess((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v), z.string()).default(def) as unknown as z.ZodType<string>;
  },
  requiredString(): z.ZodType<string> {
    return z.preprocess(
      (v) => (typeof v === 'number' ? String(v) : v),
      z.string({ error: (i) => (i.input === undefined ? 'is required' : `expected a string, got ${describe(i.input)}`) }).min(1, 'must not be empty'),
    ) as unknown as z.ZodType<string>;
  },
  optionalString(): z.ZodType<string | undefined> {
    return z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string().optional()) as unknown as z.ZodType<string | undefined>;
  },
  /** Case-insensitive choice; the value is normalised to the spelling given in `values`. */
  oneOf<const T extends string>(values: readonly T[], def: T): z.ZodType<T> {
    return z
      .preprocess(
        (v) => (typeof v === 'string' ? (values.find((x) => x.toLowerCase() === v.trim().toLowerCase()) ?? v) : v),
        z.any().superRefine((v, ctx) => {
          if (!values.includes(v as T)) ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')}, got ${describe(v)}` });
        }),
      )
      .default(def) as unknown as z.ZodType<T>;
  },
  /** A regular expression given as a string; compiled once at validation time. */
  regex(def?: string): z.ZodType<RegExp | undefined> {
    return z.preprocess(
      (v) => (v === undefined ? def : v),
      z
        .string()
        .optional()
        .transform((s, ctx) => {
          if (s === undefined || s === '') return undefined;
          try {
            return new RegExp(s);
          } catch (e) {
            ctx.addIssue({ code: 'custom', message: `is not a valid regular expression: ${(e as Error).message}` });
            return z.NEVER;
          }
        }),
    ) as unknown as z.ZodType<RegExp | undefined>;
  },
  /** A whitespace-separated list, as Flume writes `a1.sources = r1 r2`. */
  list(def: string[] = []): z.ZodType<string[]> {
    return z
      .preprocess((v) => (typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : v), z.array(z.string()))
      .default(def) as unknown as z.ZodType<string[]>;
  },
};
