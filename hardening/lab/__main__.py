"""``python -m hardening.lab image|up|down|status|molecule-up|molecule-down`` — the lab without the harden CLI.

Used by the Makefile (``make lab-image``) and by Molecule's scenario (``molecule/default``:
create.yml and destroy.yml call ``molecule-up`` and ``molecule-down``, see
:mod:`hardening.lab.molecule`). Exit 0 on success, 2 on a :class:`LabError`.

Example::

    python -m hardening.lab up --workdir .lab
    python -m hardening.lab molecule-up --instance harden-molecule-0 --workdir /tmp/m   # JSON on stdout
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hardening.lab import (
    DEFAULT_NETWORK,
    DEFAULT_PREFIX,
    DEFAULT_STATES,
    DEFAULT_WORKDIR,
    LabError,
    build_image,
    lab_down,
    lab_status,
    lab_up,
)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run one lab command; return the exit code."""
    from hardening.lab.molecule import AUTO, molecule_down, molecule_up

    parser = argparse.ArgumentParser(prog="python -m hardening.lab")
    parser.add_argument("command", choices=["image", "up", "down", "status", "molecule-up", "molecule-down"])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--prefix", default=DEFAULT_PREFIX)
    parser.add_argument("--network", default=DEFAULT_NETWORK)
    parser.add_argument("--states", default=",".join(DEFAULT_STATES))
    molecule = parser.add_argument_group("molecule-up / molecule-down (Molecule's create and destroy steps)")
    molecule.add_argument("--instance", help="the instance container's name (molecule.yml platforms[0].name)")
    molecule.add_argument("--image", default=AUTO, help=f"{AUTO}: the lab image, built if missing")
    molecule.add_argument("--ip", default=AUTO, help=f"the instance's lab address ({AUTO}: a free one)")
    molecule.add_argument(
        "--denied-ip", default=AUTO, help=f"a lab address the allowlist must refuse ({AUTO}: start a lab host)"
    )
    args = parser.parse_args(argv)
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    if args.command.startswith("molecule-") and not args.instance:
        parser.error(f"{args.command} needs --instance")
    try:
        if args.command == "image":
            print(build_image(progress=say))
        elif args.command == "up":
            lab = lab_up(args.workdir, tuple(args.states.split(",")), args.prefix, args.network, progress=say)
            for h in lab.hosts:
                print(f"{h.name:10} {h.container:24} {h.ip:14} 127.0.0.1:{h.port}")
            print(f"inventory: {lab.inventory}")
        elif args.command == "down":
            lab_down(args.prefix, args.network, args.workdir)
        elif args.command == "molecule-up":
            up = molecule_up(args.instance, args.workdir, args.network, args.image, args.ip, args.denied_ip, say)
            print(up.to_json())
        elif args.command == "molecule-down":
            molecule_down(args.instance, args.workdir, args.network)
        else:
            for h in lab_status(args.prefix):
                state = "running" if h.running else "stopped"
                print(f"{h.name:10} {h.container:24} {h.ip:14} 127.0.0.1:{h.port} {state}")
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
