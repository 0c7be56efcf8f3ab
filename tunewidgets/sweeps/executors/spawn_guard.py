"""Scripts that start worker processes need ``if __name__ == "__main__":``.

Spawned workers (a process pool, a Dask LocalCluster) import the user's script again. A script that
starts a sweep at its top level, outside that guard, would start it again in every worker and end
in an obscure error ("Nanny failed to start", a bootstrapping RuntimeError). This finds that case
before any worker starts and says what to write. Notebooks and ``python -c`` have no script file
and need no guard.
"""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

IDIOM = 'if __name__ == "__main__":'


def _is_main_guard(node: ast.AST) -> bool:
    if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and len(node.test.comparators) == 1):
        return False
    sides = [node.test.left, node.test.comparators[0]]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    constants = {s.value for s in sides if isinstance(s, ast.Constant)}
    return names == {"__name__"} and constants == {"__main__"} and isinstance(node.test.ops[0], ast.Eq)


def guarded_lines(source: str) -> set[int]:
    """The line numbers inside ``if __name__ == "__main__":`` blocks of a script."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if _is_main_guard(node):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def unguarded_call_line(script: Path) -> int | None:
    """The line of the script's top-level code that led here, if it is outside the guard."""
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_name == "<module>" and Path(frame.f_code.co_filename) == script:
            line = frame.f_lineno
            try:
                guarded = guarded_lines(script.read_text())
            except (OSError, SyntaxError, ValueError):
                return None
            return None if line in guarded else line
        frame = frame.f_back
    return None


def require_main_guard(what: str) -> None:
    """Raise a ``RuntimeError`` showing the idiom when a script starts ``what`` outside the guard."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if getattr(main, "__name__", None) == "__mp_main__":
        raise RuntimeError(f"{what} was started while a worker process imported the script {path!r}: "
                           f"put the code that starts the sweep under {IDIOM}")
    if not path or not Path(path).is_file():
        return
    script = Path(path).resolve()
    line = unguarded_call_line(script)
    if line is not None:
        raise RuntimeError(
            f"{what} starts worker processes, and they import your script again: {script.name} starts the "
            f"sweep at line {line}, outside an {IDIOM} block, so every worker would start it again. Put the "
            f"code that starts the sweep under the guard:\n\n    {IDIOM}\n        sweep = tw.sweep(...)\n\n"
            f"(notebooks need no guard)")
