"""Run one lookup in a fresh process and print its report as JSON (see lookup.report_in_process).

    python resolve_child.py CONFIG_JSON

CONFIG_JSON: {"src": the package's source dir, "name": the vocab, "kwargs": resolve()'s keyword
arguments, "pins": the pins to use, "package": the package tier's directory (null: none)}. The
report also counts calls of the tokenizer.json rebuild. Run by the tests (with -I), never imported.
"""
import json, sys, warnings
cfg = json.loads(sys.argv[1])
sys.path.insert(0, cfg["src"])
import harmony_vocab.pins as pins, harmony_vocab.tiers as tiers, harmony_vocab.tokenizer_json as tj
for p in cfg["pins"]:
    files = tuple(pins.File(*f) for f in p.pop("files"))
    pins.PINS[p["name"]] = pins.Pin(files=files, **p)
tiers.data_dir = lambda wheel: cfg["package"]
calls = {"rebuild": 0}
real_rebuild = tj.rebuild
def rebuild(*args, **kwargs):
    calls["rebuild"] += 1
    return real_rebuild(*args, **kwargs)
tj.rebuild = rebuild
from harmony_vocab.lookup import resolve
def listed(attempts):
    return [[a.tier, a.place, a.outcome, a.ok] for a in attempts]
out = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        r = resolve(cfg["name"], **cfg["kwargs"])
        out.update(tier=r.tier, path=str(r.path), attempts=listed(r.attempts))
    except Exception as exc:
        out.update(error=type(exc).__name__, bases=[c.__name__ for c in type(exc).__mro__],
                   message=str(exc), attempts=listed(getattr(exc, "attempts", ())),
                   integrity={k: getattr(exc, k, None) for k in ("path", "expected_size", "actual_size", "expected_sha256", "actual_sha256")})
out["warnings"] = [[w.category.__name__, str(w.message)] for w in caught]
out["rebuilds"] = calls["rebuild"]
print(json.dumps(out))
