#!/usr/bin/env python3
"""Writes the synthetic SpAtten-format workload traces of tests/regress/traces/.

The kit may not copy MIT HAN Lab's GPT-2 traces (../shared/data) into the repository, so the
regressions and the Slurm test replay traces generated here: the same 17-column format and
replay rules (docs/simulator.md, "Replay rules"), shaped like a GPT-2 small decode (12 layers x
12 heads, D = 64, cascade token pruning with a top-k every few layers, progressive quantization
with requant). A fixed RNG seed keeps the files identical on every run:
    tests/regress/gen_traces.py tests/regress/traces
"""
import os
import random
import sys

HEADER = ("iteration_id,layer_id,head_id,embedding_length_D,sentence_length_L,key_fetch_num,"
          "quant_key_bit,quant_query_bit,auto_requant_thres,if_requant,auto_requant_incre,"
          "value_fetch_num,quant_value_bit,if_accumulate_importance,"
          "if_rescale_previous_importance,if_topk,topk")


def rows(style, iterations, length0, rng):
    """Yields the data rows of one trace. style: per8 (6-bit everywhere, fused pairs) or
    step1 (mixed 4/6/8/12-bit keys, requant on some heads)."""
    for it in range(iterations):
        length = length0 + it
        keep = length
        for layer in range(12):
            # cascade token pruning: every third layer keeps a fraction of the tokens
            topk_here = layer % 3 == 2
            new_keep = max(8, int(keep * 0.8)) if topk_here else keep
            for head in range(12):
                if style == "per8":
                    kbits, vbits, requant = 6, 6, True
                else:
                    kbits = rng.choice([4, 6, 8, 12, -1])
                    vbits = rng.choice([6, 8, 12])
                    requant = kbits in (4, 6)
                vkeep = max(1, int(keep * rng.uniform(0.2, 0.6)))
                last = head == 11 and topk_here
                yield (f"{it},{layer},{head},64.0,{length},{keep},{kbits},16,"
                       f"{'0.05' if requant else '-1'},{requant},4,{vkeep},{vbits},True,"
                       f"{'True' if layer % 3 == 0 and layer else 'False'},"
                       f"{'True' if last else 'False'},{new_keep if last else -1}")
            keep = new_keep


def main(out):
    os.makedirs(out, exist_ok=True)
    specs = [("synth-gpt2-per8.csv", "per8", 3, 200), ("synth-gpt2-step1.csv", "step1", 2, 480)]
    for name, style, iterations, length0 in specs:
        rng = random.Random(20261204)
        with open(os.path.join(out, name), "w", newline="\n") as f:
            f.write(HEADER + "\n")
            for r in rows(style, iterations, length0, rng):
                f.write(r + "\n")
            f.write("tests/regress/gen_traces.py," + "," * 15 + "\n")
        print(f"wrote {os.path.join(out, name)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "traces"))
