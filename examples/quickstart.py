"""Constrain a (tiny, randomly initialised) transformers model to a Lark grammar.

Run:  python examples/quickstart.py [TOKENIZER_DIR]

TOKENIZER_DIR is a folder with a Hugging Face tokenizer.json (default: the Llama 3
tokenizer in ../shared/tokenizers/llama3). No weights are downloaded: the model is built
from a small config with random weights, so its text is gibberish -- but the engine makes
every output a valid word of the grammar (here: JSON), which the script checks.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

import grammar_engine as ge

HERE = Path(__file__).resolve().parent


def main() -> None:
    tok_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent / "shared" / \
        "tokenizers" / "llama3"
    if not (tok_dir / "tokenizer.json").is_file():
        sys.exit(f"no tokenizer.json in {tok_dir}; pass a tokenizer folder as the argument")
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(tok_dir / "tokenizer.json"))
    vocab = ge.Vocabulary.from_tokenizer_json(tok_dir)

    t0 = time.perf_counter()
    grammar = ge.compile_grammar((HERE / "json.lark").read_text(), vocab)
    print(f"compiled the JSON grammar in {1000 * (time.perf_counter() - t0):.1f} ms: {grammar}")

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab.size, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    model = LlamaForCausalLM(config).eval()

    for sample in range(3):
        matcher = ge.Matcher(grammar)
        bitmask = ge.allocate_token_bitmask(1, vocab.size)
        ids = tokenizer.encode("JSON:", add_special_tokens=False)
        out: list[int] = []
        with torch.no_grad():
            for _ in range(60):
                logits = model(torch.tensor([ids + out])).logits[:, -1, :]  # (1, V)
                matcher.fill_next_token_bitmask(bitmask)
                ge.apply_token_bitmask_inplace(logits, torch.from_numpy(bitmask))
                token = int(torch.multinomial(torch.softmax(logits, -1), 1))
                assert matcher.consume_token(token)
                if matcher.is_terminated():
                    break
                out.append(token)
                # Stop early once the document is complete and the model may stop.
                if matcher.is_accepting() and len(out) > 20:
                    break
        text = tokenizer.decode(out)
        status = "complete" if matcher.is_accepting() else "cut at 60 tokens (a valid prefix)"
        print(f"sample {sample}: {text[:100]!r}{'...' if len(text) > 100 else ''} -> {status}")
        if matcher.is_accepting():
            json.loads(text)  # the engine guarantees this parses


if __name__ == "__main__":
    main()
