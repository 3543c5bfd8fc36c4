"""Ship trained runs as QAgent's default agent: each run's best.pt exported as a slim policy
checkpoint (``qagent.train.checkpoint.export_policy``: the network and what rebuilds it, no
optimizer, replay or target network) into ``qagent/pretrained/`` (``--value-checkpoints``:
the ensemble used when the objective is value burned), and the card
``qagent/pretrained/default_agent.json`` that ``qagent.evaluation.pretrained`` reads (the
checkpoint list, what they were trained on, how they were chosen), from a card template
holding the description.

    python benchmarks/export_default_agent.py --card card.json runs/dpvch_{0,1,2}/best.pt \\
        --value-checkpoints runs/valued_{0,1}/best.pt
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from qagent.evaluation.pretrained import DEFAULT_AGENT_CARD, PRETRAINED_DIR
from qagent.train.checkpoint import export_policy, load_checkpoint


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--card", required=True, metavar="JSON",
                   help="the card's description: trained_on, chosen_by, validation, ... (any keys)")
    p.add_argument("checkpoints", nargs="+", metavar="BEST_PT")
    p.add_argument("--value-checkpoints", nargs="*", default=[], metavar="BEST_PT")
    a = p.parse_args()
    card = json.loads(Path(a.card).read_text())
    PRETRAINED_DIR.mkdir(exist_ok=True)
    for old in list(PRETRAINED_DIR.glob("default_agent_*.pt")) + list(PRETRAINED_DIR.glob("value_agent_*.pt")):
        old.unlink()
    lists = {"checkpoints": ("default_agent", a.checkpoints), "value_checkpoints": ("value_agent", a.value_checkpoints)}
    members = []
    for key, (stem, sources) in lists.items():
        names = []
        for i, src in enumerate(sources):
            name = f"{stem}_{i}.pt"
            out = export_policy(src, PRETRAINED_DIR / name)
            state = load_checkpoint(out)
            cfg = state["config"]
            names.append(name)
            members.append({"file": name, "ensemble": key, "source_run": str(Path(src).parent.name),
                            "seed": cfg.get("seed"), "synthetic_values": cfg.get("synthetic_values"),
                            "env_steps": state["counters"].get("env_steps"), "model": state["model_name"],
                            "grid_size": state["grid_size"], "bytes": out.stat().st_size,
                            "sha256": hashlib.sha256(out.read_bytes()).hexdigest()})
        card[key] = names
    card["members"] = members
    DEFAULT_AGENT_CARD.write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {', '.join(m['file'] for m in members)} and {DEFAULT_AGENT_CARD.name} into {PRETRAINED_DIR}")


if __name__ == "__main__":
    main()
