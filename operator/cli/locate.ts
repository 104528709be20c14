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
  key?: string;
  /** Whether the line starts a sequence item (`- `), and the indent of its content. */
  item?: number;
}

function scan(text: string, firstLine: number): Line[] {
  return text.split('\n').flatMap((raw, i): Line[] => {
    const trimmed = raw.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) return [];
    const indent = raw.length - trimmed.length;
    const item = /^-(\s+|$)/.exec(trimmed);
    const rest = item ? trimmed.slice(item[0].length) : trimmed;
    const key = /^("([^"]*)"|'([^']*)'|[^\s:#][^:#]*?)\s*:(\s|$)/.exec(rest);
    const name = key ? (key[2] ?? key[3] ?? key[1]) : undefined;
    return [{ number: firstLine + i, indent, ...(name !== undefined ? { key: name } : {}), ...(item ? { item: indent + item[0].length } : {}) }];
  });
}

/** `a.b[0].c` -> ['a', 'b', 0, 'c']. */
export function fieldPath(field: string): Array<string | number> {
  const parts: Array<string | number> = [];
  for (const match of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) parts.push(match[2] !== undefined ? Number(match[2]) : (match[1] ?? ''));
  return parts;
}

/** The line of `field` in the document `text` that starts on `firstLine`. */
export function locateField(text: string, firstLine: number, field: string): number {
  const lines = scan(text, firstLine);
  let from = 0;
  let to = lines.length;
  let found = firstLine;
  for (const part of fieldPath(field)) {
    const range = lines.slice(from, to);
    if (range.length === 0) break;
    if (typeof part === 'number') {
      const itemIndent = Math.min(...range.filter((l) => l.item !== undefined).map((l) => l.indent));
      const items = range.map((l, i) => ({ l, i })).filter(({ l }) => l.item !== undefined && l.indent === itemIndent);
      const hit = items[part];
      if (!hit) break;
      const next = items[part + 1];
      found = hit.l.number;
      // The item's own mapping: its first line (after `- `) and what follows, up to the next item.
      const { item, ...content } = hit.l;
      lines[from + hit.i] = { ...content, indent: item ?? hit.l.indent };
      to = next ? from + next.i : to;
      from = from + hit.i;
      continue;
    }
    // Sequence items may sit at their key's own indent (`containers:` then `- name:` below it).
    const keyIndent = Math.min(...range.filter((l) => l.key !== undefined && l.item === undefined).map((l) => l.indent));
    const index = range.findIndex((l) => l.key === part && l.item === undefined && l.indent === keyIndent);
    if (index < 0) break;
    const hit = range[index];
    if (!hit) break;
    found = hit.number;
    const end = range.findIndex((l, i) => i > index && (l.indent < keyIndent || (l.indent === keyIndent && l.item === undefined)));
    to = end < 0 ? to : from + end;
    from = from + index + 1;
  }
  return found;
}
