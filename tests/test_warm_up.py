"""``warm_up`` loads every kernel the engine uses, each in its one specialization.

Run in a fresh process: numba keeps a kernel's specializations per process, and the kernel
tests of this session call kernels with arrays of their own. The child calls ``warm_up``,
then compiles and walks the test grammars and a JSON schema under Llama 3; no kernel may
gain a specialization after the warm-up (it would be compiled or loaded inside a fill),
and none may have two (a caller passing a read-only array where others pass a writable one
pays a second compilation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.shared_data import REPO, tokenizer_path

_CHILD = r"""
import json, sys
from pathlib import Path
from numba.core.registry import CPUDispatcher
import native.dfa_kernels, native.glr_kernels, native.glr_mask, native.kernels
import native.lexer_kernels, native.lr_kernels, native.shift_kernels
import grammar_engine as ge
from tests.grammars import ALL, SAMPLES

kernels = {f"{m.__name__}.{n}": getattr(m, n)
           for m in (native.dfa_kernels, native.glr_kernels, native.glr_mask, native.kernels,
                     native.lexer_kernels, native.lr_kernels, native.shift_kernels)
           for n in dir(m) if isinstance(getattr(m, n), CPUDispatcher)}
ge.warm_up()
after_warm_up = {k: len(v.signatures) for k, v in kernels.items()}
vocab = ge.Vocabulary.from_tokenizer_json(Path(sys.argv[1]))
from transformers import PreTrainedTokenizerFast
tok = PreTrainedTokenizerFast(tokenizer_file=str(Path(sys.argv[1]) / "tokenizer.json"))
bitmask = ge.allocate_token_bitmask(1, vocab.size)
schema = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "maxLength": 2000}, "mail": {"type": "string", "format": "email"},
    "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
    "n": {"type": "integer", "minimum": 3}}, "patternProperties": {"^x-": {"type": "string"}}}
doc = json.dumps({"name": "hello world " * 30, "mail": "a@b.co", "tags": ["ab", "cd"], "n": 7})
work = [(ge.compile_grammar(ALL[g], vocab, cache=False), SAMPLES[g][:2]) for g in ALL]
work.append((ge.compile_json_schema(schema, vocab, cache=False), [doc]))
for compiled, texts in work:
    for text in texts:
        m = ge.Matcher(compiled)
        for tid in tok.encode(text, add_special_tokens=False):
            m.fill_next_token_bitmask(bitmask)
            assert m.consume_token(tid), text
        m.fill_next_token_bitmask(bitmask)
final = {k: len(v.signatures) for k, v in kernels.items()}
print(json.dumps({"warm": after_warm_up, "final": final}))
"""


def test_warm_up_loads_every_kernel_once() -> None:
    folder = tokenizer_path("llama3")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", _CHILD, str(folder)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    late = {k: (counts["warm"][k], n) for k, n in counts["final"].items()
            if n != counts["warm"][k]}
    assert not late, f"kernels first used after warm_up (before, after): {late}"
    twice = {k: n for k, n in counts["final"].items() if n > 1}
    assert not twice, f"kernels with more than one specialization: {twice}"
    assert sum(counts["warm"].values()) >= 15  # the warm-up did reach the kernels
