/**
 * Finds the line of a field in a YAML document's text, for the file:line a code-scanning tool
 * annotates: `spec.template.spec.containers[0].securityContext.privileged` -> the line holding
 * `privileged:` inside the first container's securityContext. Block-style YAML (what kubectl,
 * Helm and kustomize write) is walked by indentation; where the path cannot be followed (flow
 * style, JSON, a field that is absent because the rule asks for it) the deepest part found counts,
 * else the document's first line.
 */

interface Line {
  number: number;
  indent: number;
  /** `key` of `key:` (after any `- `), if the line has one. */
  key: string | undefined;
  /** Whether the line starts a sequence item (`- `), and the indent of its content. */
  item: number | undefined;
}

const itemPattern = /^-(\s+|$)/;
const keyPattern = /^("([^"]*)"|'([^']*)'|[^\s:#][^:#]*?)\s*:(\s|$)/;

// A plain loop with lines of one shape: this runs for every document with a violation.
function scan(text: string, firstLine: number): Line[] {
  const lines: Line[] = [];
  let number = firstLine;
  for (let start = 0; start <= text.length; number++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const raw = text.slice(start, end);
    start = end + 1;
    const trimmed = raw.trimStart();
    if (trimmed === '' || trimmed.charCodeAt(0) === 35 /* # */) continue;
    const indent = raw.length - trimmed.length;
    const item = trimmed.charCodeAt(0) === 45 /* - */ ? itemPattern.exec(trimmed) : null;
    const rest = item ? trimmed.slice(item[0].length) : trimmed;
    const key = keyPattern.exec(rest);
    lines.push({ number, indent, key: key ? (key[2] ?? key[3] ?? key[1]) : undefined, item: item ? indent + item[0].length : undefined });
  }
  return lines;
}

/** `a.b[0].c` -> ['a', 'b', 0, 'c']. */
export function fieldPath(field: string): Array<string | number> {
  const parts: Array<string | number> = [];
  for (const match of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) parts.push(match[2] !== undefined ? Number(match[2]) : (match[1] ?? ''));
  return parts;
}

/** Where a walk down a field path stands: the lines still in scope and the deepest line found. */
interface Walk {
  from: number;
  to: number;
  found: number;
  /** A sequence item's own mapping starts on its `- ` line: that line, read as a key line at the item's content indent. */
  item?: { index: number; line: Line };
  /** The walk cannot go deeper: later parts keep `found`. */
  done: boolean;
}

/**
 * Field paths split once: rules report the same few hundred fields across thousands of objects.
 * Bounded, since fields name containers and volumes by index.
 */
const paths = new Map<string, { parts: Array<string | number>; prefixes: string[] }>();

function pathOf(field: string): { parts: Array<string | number>; prefixes: string[] } {
  let path = paths.get(field);
  if (!path) {
    path = { parts: [], prefixes: [] };
    for (const match of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
      path.parts.push(match[2] !== undefined ? Number(match[2]) : (match[1] ?? ''));
      path.prefixes.push(field.slice(0, match.index + match[0].length));
    }
    if (paths.size >= 4096) paths.clear();
    paths.set(field, path);
  }
  return path;
}

/**
 * A document's lines, scanned once, and the walks to the fields located so far: an object's
 * violations share their paths' beginnings (`spec.template.spec.containers[0].securityContext`),
 * so each prefix is walked once. Scanning the document per violation was 40% of `securestack
 * audit`'s time on 10,000 manifests.
 */
export class DocumentLines {
  private readonly lines: readonly Line[];
  private readonly walks = new Map<string, Walk>();
  constructor(
    text: string,
    private readonly firstLine: number,
  ) {
    this.lines = scan(text, firstLine);
  }

  /** The line of `field`: the deepest part of its path that the block structure leads to. */
  locate(field: string): number {
    const { parts, prefixes } = pathOf(field);
    let walk: Walk = { from: 0, to: this.lines.length, found: this.firstLine, done: false };
    for (let i = 0; i < parts.length; i++) {
      const prefix = prefixes[i] ?? '';
      const known = this.walks.get(prefix);
      if (known) {
        walk = known;
        continue;
      }
      walk = walk.done ? walk : this.step(walk, parts[i] ?? '');
      this.walks.set(prefix, walk);
    }
    return walk.found;
  }

  private step(walk: Walk, part: string | number): Walk {
    const lines = this.lines;
    const at = (i: number): Line => (walk.item?.index === i ? walk.item.line : lines[i]);
    const { from, to } = walk;
    const stop: Walk = { ...walk, done: true };
    if (from >= to) return stop;
    if (typeof part === 'number') {
      let itemIndent = Infinity;
      for (let i = from; i < to; i++) {
        const l = at(i);
        if (l.item !== undefined && l.indent < itemIndent) itemIndent = l.indent;
      }
      let seen = -1;
      let hitIndex = -1;
      let nextIndex = -1;
      for (let i = from; i < to; i++) {
        const l = at(i);
        if (l.item === undefined || l.indent !== itemIndent) continue;
        seen++;
        if (seen === part) hitIndex = i;
        else if (seen === part + 1) {
          nextIndex = i;
          break;
        }
      }
      if (hitIndex < 0) return stop;
      const hit = at(hitIndex);
      // The item's mapping: its first line (after `- `) and what follows, up to the next item.
      const line: Line = { number: hit.number, indent: hit.item ?? hit.indent, key: hit.key, item: undefined };
      return { from: hitIndex, to: nextIndex >= 0 ? nextIndex : to, found: hit.number, item: { index: hitIndex, line }, done: false };
    }
    // Sequence items may sit at their key's own indent (`containers:` then `- name:` below it).
    let keyIndent = Infinity;
    for (let i = from; i < to; i++) {
      const l = at(i);
      if (l.key !== undefined && l.item === undefined && l.indent < keyIndent) keyIndent = l.indent;
    }
    let index = -1;
    for (let i = from; i < to; i++) {
      const l = at(i);
      if (l.key === part && l.item === undefined && l.indent === keyIndent) {
        index = i;
        break;
      }
    }
    if (index < 0) return stop;
    let end = to;
    for (let i = index + 1; i < to; i++) {
      const l = at(i);
      if (l.indent < keyIndent || (l.indent === keyIndent && l.item === undefined)) {
        end = i;
        break;
      }
    }
    // Lines before `from` are never read again, so an earlier item's line needs no keeping.
    return { from: index + 1, to: end, found: at(index).number, done: false };
  }
}

/** The line of `field` in the document `text` that starts on `firstLine`. */
export function locateField(text: string, firstLine: number, field: string): number {
  return new DocumentLines(text, firstLine).locate(field);
}
