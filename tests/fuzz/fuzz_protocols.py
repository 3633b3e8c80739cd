"""Coverage-guided fuzzing of every wire parser with atheris (libFuzzer), on the targets the tests use.

Run for a bounded time (the corpus directory is created and grows as new paths are found)::

    .venv/bin/python tests/fuzz/fuzz_protocols.py -max_total_time=300 .fuzz-corpus
    .venv/bin/python tests/fuzz/fuzz_protocols.py -runs=20000            # a fixed number of inputs

A crash stops the run and writes the input to ``crash-<sha1>``; replay it with
``tests/fuzz/fuzz_protocols.py crash-<sha1>``. The recorded fixtures are added to the corpus as seeds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["voiceguard"]):
    import importlib
    import pkgutil

    import voiceguard.protocols

    # Adapters are imported lazily by ``build_adapter``; import them all here so they are instrumented.
    for module in pkgutil.iter_modules(voiceguard.protocols.__path__):
        importlib.import_module(f"voiceguard.protocols.{module.name}")
    from tests.fuzz.targets import (
        HTTP_ENDPOINTS,
        REWRITES,
        WS_ENDPOINTS,
        check_http,
        check_sse_splitter,
        check_websocket,
        seeds,
    )
    from voiceguard.protocols import jsonspan

CONTENT_TYPES = ("application/json", "text/event-stream", "audio/mpeg", "")


def _payload(fdp: atheris.FuzzedDataProvider) -> bytes:
    """Either raw fuzz bytes, or a recorded message with fuzz bytes spliced in (reaches deeper faster)."""
    if fdp.ConsumeBool():
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096))
    corpus = seeds()
    seed = corpus[fdp.ConsumeIntInRange(0, len(corpus) - 1)]
    at = fdp.ConsumeIntInRange(0, len(seed))
    cut = fdp.ConsumeIntInRange(at, len(seed))
    return seed[:at] + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64)) + seed[cut:]


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    target = fdp.ConsumeIntInRange(0, 3)
    rewrite = REWRITES[fdp.ConsumeIntInRange(0, len(REWRITES) - 1)]
    cuts = [fdp.ConsumeIntInRange(0, 1 << 16) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    if target == 0:
        check_sse_splitter(_payload(fdp), cuts, fdp.ConsumeIntInRange(1, 8192))
    elif target == 1:
        endpoint = HTTP_ENDPOINTS[fdp.ConsumeIntInRange(0, len(HTTP_ENDPOINTS) - 1)]
        content_type = CONTENT_TYPES[fdp.ConsumeIntInRange(0, len(CONTENT_TYPES) - 1)]
        status = (200, 400, 500)[fdp.ConsumeIntInRange(0, 2)]
        headers = [fdp.ConsumeUnicodeNoSurrogates(6) for _ in range(fdp.ConsumeIntInRange(0, 2))]
        check_http(endpoint, _payload(fdp), _payload(fdp), content_type, status, headers, cuts, rewrite)
    elif target == 2:
        endpoint = WS_ENDPOINTS[fdp.ConsumeIntInRange(0, len(WS_ENDPOINTS) - 1)]
        frames = [
            (fdp.ConsumeBool(), fdp.ConsumeBool(), _payload(fdp)) for _ in range(fdp.ConsumeIntInRange(1, 4))
        ]
        query = [("output_format", fdp.ConsumeUnicodeNoSurrogates(12))] if fdp.ConsumeBool() else []
        check_websocket(endpoint, frames, query, rewrite)
    else:
        raw = _payload(fdp)
        path = tuple(
            fdp.ConsumeIntInRange(0, 3) if fdp.ConsumeBool() else fdp.ConsumeUnicodeNoSurrogates(6)
            for _ in range(fdp.ConsumeIntInRange(0, 3))
        )
        try:
            jsonspan.find(raw, path)
            if path:
                jsonspan.edit(raw, [(path, fdp.ConsumeUnicodeNoSurrogates(8))])
        except ValueError:
            pass


def main() -> None:
    argv = list(sys.argv)
    corpus = next((arg for arg in argv[1:] if not arg.startswith("-")), None)
    if corpus is not None and not Path(corpus).is_file():
        directory = Path(corpus)
        directory.mkdir(parents=True, exist_ok=True)
        for index, seed in enumerate(seeds()):
            (directory / f"seed-{index}").write_bytes(seed)
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
