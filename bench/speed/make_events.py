"""Real crash events from a checkout of a large Python project, for the speed benchmark.

Each snippet below calls the project's public API with input it rejects, so the exception is
raised from deep inside the project's own code. The snippets run in a subprocess with the
checkout first on `sys.path`, under sentry-sdk with a capturing transport; every captured event is
written as one Sentry stored event (JSON) per file.

    python bench/speed/make_events.py --checkout <clone of sympy> --out <folder>
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

SNIPPETS = {
    "matrix-inverse": "from sympy import Matrix; Matrix([[1, 2], [2, 4]]).inv()",
    "sympify": "from sympy import sympify; sympify('x +* 2')",
    "poly": "from sympy import Poly, Symbol; Poly(1 / Symbol('x'), Symbol('x'))",
    "permutation": "from sympy.combinatorics import Permutation; Permutation([0, 0, 1])",
    "rational": "from sympy import Rational; Rational('abc')",
    "matrix-shape": "from sympy import Matrix; Matrix([[1, 2]]) * Matrix([[1, 2]])",
    "factorint": "from sympy.ntheory import factorint; factorint(1.5)",
    "ragged-matrix": "from sympy import Matrix; Matrix([[1, 2], [3]])",
    "lambdify": "from sympy import lambdify, Symbol; lambdify(Symbol('x'), 'x +')(1)",
    "groebner": "from sympy import groebner, Symbol; groebner([Symbol('x')], 1)",
    # An error naming a missing attribute of a class makes the engine look for that class's
    # definition over the whole tree (one `git grep`).
    "row-join": "from sympy import Matrix\nclass Grid:\n    shape = (1, 1)\n    is_Matrix = True\n"
                "Matrix([[1]]).row_join(Grid())",
}

RUNNER = '''
import json, sys
import sentry_sdk
from sentry_sdk.transport import Transport

class Keep(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events = []
    def capture_envelope(self, envelope):
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)

keep = Keep()
sentry_sdk.init(dsn="https://public@sentry.invalid/1", transport=keep, release=sys.argv[2],
                default_integrations=False, in_app_include=["sympy"], project_root=sys.argv[3],
                data_collection={"user_info": False, "stack_frame_variables": False})
try:
    exec(sys.argv[4], {})
except Exception as exc:
    sentry_sdk.capture_exception(exc)
sentry_sdk.flush()
if keep.events:
    json.dump(keep.events[-1], open(sys.argv[1], "w"), default=str)
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    release = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], check=True,
                             capture_output=True, text=True).stdout.strip()
    args.out.mkdir(parents=True, exist_ok=True)
    made = 0
    for name, code in SNIPPETS.items():
        target = args.out / f"{name}.json"
        subprocess.run([sys.executable, "-c", RUNNER, str(target), release, str(checkout), code],
                       cwd=checkout, env={"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"},
                       capture_output=True, timeout=300, check=False)
        if target.exists():
            event = json.loads(target.read_text())
            frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
            app = sum(1 for frame in frames if frame.get("in_app"))
            print(f"{name}: {event['exception']['values'][-1]['type']}, {app} in-app frames")
            made += 1
        else:
            print(f"{name}: no exception captured")
    print(f"{made} events in {args.out}")
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main())
