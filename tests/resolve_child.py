"""Run one lookup in a fresh process and print its report as JSON (see lookup.report_in_process).

    python resolve_child.py CONFIG_JSON

CONFIG_JSON: {"src": the package's source dir, "name": the vocab, "kwargs": resolve()'s keyword
arguments, "pins": the pins to use, "package": the package tier's directory}. The report also
counts calls of the tokenizer.json rebuild. Run by the tests (with -I), never imported.
"""
import dataclasses, json, sys, warnings
from pathlib import Path
cfg = json.loads(sys.argv[1])
sys.path.insert(0, cfg["src"])
import harmony_vocab.bundled, harmony_vocab.pins, harmony_vocab.tokenizer_json as tj
for p in cfg["pins"]:
    p["urls"] = tuple(p["urls"])
    harmony_vocab.pins.PINS[p["name"]] = harmony_vocab.pins.Pin(**p)
harmony_vocab.bundled._dir = Path(cfg["package"])
calls = {"rebuild": 0}
real_rebuild = tj.rebuild
def rebuild(*args, **kwargs):
    calls["rebuild"] += 1
    return real_rebuild(*args, **kwargs)
tj.rebuild = rebuild
from harmony_vocab.resolution import resolve
out = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        r = resolve(cfg["name"], **cfg["kwargs"])
        out.update(tier=r.tier, path=str(r.path), attempts=[list(dataclasses.astuple(a)) for a in r.attempts])
    except Exception as exc:
        out.update(error=type(exc).__name__, bases=[c.__name__ for c in type(exc).__mro__],
                   message=str(exc), attempts=[list(dataclasses.astuple(a)) for a in getattr(exc, "attempts", ())],
                   integrity={k: getattr(exc, k, None) for k in ("path", "expected_size", "actual_size", "expected_sha256", "actual_sha256")})
out["warnings"] = [[w.category.__name__, str(w.message)] for w in caught]
out["rebuilds"] = calls["rebuild"]
print(json.dumps(out))
