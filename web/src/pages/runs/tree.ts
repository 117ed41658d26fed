// Nested runs (tag mlflow.parentRunId) as a tree over the rows loaded so far. A run whose
// parent is not loaded (filtered out, or on a later page) shows at the top level.

export const PARENT_TAG = "mlflow.parentRunId";

export interface TreeInput {
  id: string;
  parentId: string | null;
}

export interface TreeRow<T> {
  item: T;
  depth: number;
  childCount: number;
  expanded: boolean;
}

export interface Tree<T> {
  roots: T[];
  children: Map<string, T[]>;
}

export function buildTree<T>(items: T[], node: (item: T) => TreeInput): Tree<T> {
  const ids = new Set<string>();
  for (const item of items) ids.add(node(item).id);
  const roots: T[] = [];
  const children = new Map<string, T[]>();
  for (const item of items) {
    const { id, parentId } = node(item);
    if (parentId && parentId !== id && ids.has(parentId)) {
      const list = children.get(parentId);
      if (list) list.push(item);
      else children.set(parentId, [item]);
    } else {
      roots.push(item);
    }
  }
  return { roots, children };
}

/** The visible rows: roots in order, each expanded node followed by its children. Cycles
 * (a run naming its own descendant as parent) cannot loop: a node is shown once. */
export function flattenTree<T>(tree: Tree<T>, expanded: ReadonlySet<string>, id: (item: T) => string): TreeRow<T>[] {
  const out: TreeRow<T>[] = [];
  const seen = new Set<string>();
  const stack: { item: T; depth: number }[] = [];
  for (let i = tree.roots.length - 1; i >= 0; i--) stack.push({ item: tree.roots[i], depth: 0 });
  while (stack.length) {
    const { item, depth } = stack.pop()!;
    const key = id(item);
    if (seen.has(key)) continue;
    seen.add(key);
    const kids = tree.children.get(key) ?? [];
    const open = kids.length > 0 && expanded.has(key);
    out.push({ item, depth, childCount: kids.length, expanded: open });
    if (open) for (let i = kids.length - 1; i >= 0; i--) stack.push({ item: kids[i], depth: depth + 1 });
  }
  return out;
}
