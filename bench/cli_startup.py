"""Start-up cost of the command line and of a run's kernel imports, against the same imports without the two fixes,
measured in the same run (fresh interpreters, best of N).

    python bench/cli_startup.py [--repeat 5]

1. `import collapse_repro.cli` (every `collapse-repro` command pays it) vs the same after importing `jsonschema` the
   ordinary way, which builds rfc3987-syntax's grammar for an "iri" format check no notebook schema uses (what every
   command paid when `params` imported nbformat; a run now imports jsonschema lean, `core.import_jsonschema_lean`).
2. `import collapse_repro.core` (the kernel of every run pays it) vs the same plus `nbformat` (what `params` imported
   before it read notebooks as JSON).
Prints seconds and the ratios (baseline / package).
"""
import argparse, subprocess, sys, time


def best(code: str, repeat: int) -> float:
    "Least wall time of `repeat` fresh interpreters running `code`."
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, '-c', code], check=True)
        out.append(time.perf_counter() - t)
    return min(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--repeat', type=int, default=5)
    a = ap.parse_args()
    rows = [('command line', 'import collapse_repro.cli', 'import jsonschema, collapse_repro.cli'),
            ('kernel imports', 'import collapse_repro.core', 'import nbformat, collapse_repro.core')]
    for name, ours, base in rows:
        o, b = best(ours, a.repeat), best(base, a.repeat)
        print(f'{name:15s} package {o:6.2f} s   baseline {b:6.2f} s   ratio {b / o:5.1f}x')


if __name__ == '__main__': main()
