"""Constrain a (tiny, randomly initialised) transformers model to a JSON Schema.

Run:  python examples/quickstart.py [TOKENIZER_DIR]

TOKENIZER_DIR is a folder with a Hugging Face tokenizer.json (default: the Llama 3
tokenizer in ../shared/tokenizers/llama3). No weights are downloaded: the model is built
from a small config with random weights, so its text is gibberish -- but the engine makes
every complete output validate against the schema, which the script checks with jsonschema.
(examples/json.lark shows the same with a Lark grammar: `grammar-engine compile`.)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import jsonschema
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

    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 12},
            "age": {"type": "integer", "minimum": 0, "maximum": 130},
            "email": {"type": "string", "format": "email"},
            "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 3},
        },
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    t0 = time.perf_counter()
    grammar = ge.compile_json_schema(schema, vocab, whitespace="compact")
    print(f"compiled the schema in {1000 * (time.perf_counter() - t0):.1f} ms: {grammar}")

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
            for _ in range(80):
                logits = model(torch.tensor([ids + out])).logits[:, -1, :]  # (1, V)
                matcher.fill_next_token_bitmask(bitmask)
                ge.apply_token_bitmask_inplace(logits, torch.from_numpy(bitmask))
                token = int(torch.multinomial(torch.softmax(logits, -1), 1))
                assert matcher.consume_token(token)
                if matcher.is_terminated():
                    break
                out.append(token)
        text = tokenizer.decode(out)
        if matcher.is_accepting():
            jsonschema.validate(json.loads(text), schema)  # guaranteed by the engine
            status = "complete, validates"
        else:
            status = "cut at 80 tokens (a valid prefix)"
        print(f"sample {sample}: {text[:120]!r}{'...' if len(text) > 120 else ''} -> {status}")


if __name__ == "__main__":
    main()
