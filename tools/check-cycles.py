#!/usr/bin/env python3
"""Fails when the top-level modules of src/ import each other in a cycle.

A top-level module is a file `src/NAME.rs` or a folder `src/NAME/`. An edge
A -> B is any `crate::B` path written in A's files (in `use` lists, braces
included, and in inline paths). `main.rs`, `lib.rs` and test modules
(`#[cfg(test)] mod tests { ... }` at the end of a file) are ignored: the binary
and the crate root sit above everything, and a unit test may reach anywhere.

Usage: tools/check-cycles.py [SRC_DIR]   (prints the graph with -v)
"""
import os
import re
import sys

ROOT_SKIP = {"main", "lib"}


def top_modules(src):
    mods = {}
    for entry in sorted(os.listdir(src)):
        path = os.path.join(src, entry)
        if entry.endswith(".rs") and os.path.isfile(path):
            name = entry[:-3]
            if name not in ROOT_SKIP:
                mods[name] = [path]
        elif os.path.isdir(path) and not entry.startswith("."):
            files = []
            for dirpath, _, names in os.walk(path):
                files += [os.path.join(dirpath, n) for n in names if n.endswith(".rs")]
            mods[entry] = sorted(files)
    return mods


def strip(text):
    """Drops comments, string literals and the trailing `#[cfg(test)] mod tests`."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    m = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    if m:
        text = text[: m.start()]
    return text


def group_targets(body):
    """Top-level names inside `crate::{a, b::c, d::{e}}` (depth-aware)."""
    names, depth, cur = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if depth == 0 and ch == ",":
            names.append(cur)
            cur = ""
        else:
            cur += ch
    names.append(cur)
    out = []
    for n in names:
        n = n.strip()
        m = re.match(r"(\w+)", n)
        if m:
            out.append(m.group(1))
    return out


def edges_of(files, mods):
    deps = {}
    for f in files:
        text = strip(open(f, encoding="utf-8").read())
        for m in re.finditer(r"\bcrate::(\{|\w+)", text):
            if m.group(1) == "{":
                depth, i = 1, m.end()
                while depth and i < len(text):
                    depth += {"{": 1, "}": -1}.get(text[i], 0)
                    i += 1
                targets = group_targets(text[m.end() : i - 1])
            else:
                targets = [m.group(1)]
            for t in targets:
                if t in mods:
                    deps.setdefault(t, set()).add(os.path.relpath(f))
    return deps


def find_cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "-v"]
    verbose = "-v" in sys.argv[1:]
    src = args[0] if args else "src"
    mods = top_modules(src)
    graph, why = {}, {}
    for name, files in mods.items():
        deps = edges_of(files, mods)
        deps.pop(name, None)
        graph[name] = set(deps)
        for d, fs in deps.items():
            why[(name, d)] = sorted(fs)
    if verbose:
        for name in sorted(graph):
            print(f"{name} -> {', '.join(sorted(graph[name])) or '(nothing)'}")
    cycles = find_cycles(graph)
    if not cycles:
        print(f"check-cycles: {len(mods)} top-level modules of {src}/, no import cycle")
        return 0
    for comp in cycles:
        print(f"check-cycles: import cycle among {', '.join(comp)}:", file=sys.stderr)
        members = set(comp)
        for a in comp:
            for b in sorted(graph[a] & members):
                print(f"  {a} -> {b}  ({', '.join(why[(a, b)])})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
