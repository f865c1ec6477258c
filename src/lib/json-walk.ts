/** A path into a JSON value, as in validation details (`layout.grid.0`). */
export type JsonPath = (string | number)[];

/**
 * The first place in a parsed JSON value where `check` finds a problem (given each value and,
 * for object members, its key), with its path. Iterative: request bodies may nest tens of
 * thousands deep, deeper than a recursive walk's stack.
 */
export function findInJson(
  root: unknown,
  check: (value: unknown, key: string | number | undefined) => string | null,
): { path: JsonPath; message: string } | null {
  type Node = { value: unknown; key?: string | number; parent?: Node };
  const pathOf = (node: Node) => {
    const path: JsonPath = [];
    for (let n: Node | undefined = node; n?.key !== undefined; n = n.parent) path.unshift(n.key);
    return path;
  };
  const stack: Node[] = [{ value: root }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const message = check(node.value, node.key);
    if (message) return { path: pathOf(node), message };
    const { value } = node;
    // Children pushed last-first, so they are visited in document order.
    const children: [string | number, unknown][] = Array.isArray(value)
      ? value.map((child, i) => [i, child])
      : typeof value === "object" && value !== null
        ? Object.entries(value)
        : [];
    for (let i = children.length - 1; i >= 0; i--) stack.push({ value: children[i]![1], key: children[i]![0], parent: node });
  }
  return null;
}
