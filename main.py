"""LayerLab: build, train and see inside small neural networks.

python main.py [MODEL_FILE]                       open the window (on the default example)
python main.py --screenshot OUT.png [MODEL_FILE]  render the window to a PNG and exit
                                                  (--size WxH, --workspace build|train)
python main.py train MODEL_FILE [options]         train headless (see `main.py train --help`)
"""

from __future__ import annotations

import argparse
import sys


def gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="LayerLab: build, train and see inside small neural networks.",
        epilog=(
            "Headless training: python main.py train MODEL_FILE --dataset NAME_OR_PATH "
            "[--epochs N --device auto --batch-size B --lr LR --export OUT]; "
            "see `python main.py train --help`."
        ),
    )
    parser.add_argument(
        "model",
        nargs="?",
        metavar="MODEL_FILE",
        help="a LayerLab model file (.json) to open; default: the digits CNN example",
    )
    parser.add_argument(
        "--example",
        metavar="ID",
        help="open a bundled example instead of a file (e.g. digits_cnn, sine_lstm, memory_rnn)",
    )
    parser.add_argument(
        "--screenshot",
        metavar="OUT.png",
        help="render the main window offscreen to this PNG and exit",
    )
    parser.add_argument(
        "--size",
        default="1440x900",
        metavar="WxH",
        help="window size for --screenshot (default 1440x900)",
    )
    parser.add_argument(
        "--workspace",
        choices=("build", "train"),
        default="build",
        help="the workspace --screenshot shows: build (canvas, Inspector) or train (the views)",
    )
    parser.add_argument("--version", action="version", version="LayerLab 0.1.0")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "train":
        from engine.cli import train_main

        return train_main(argv[1:])
    args = gui_parser().parse_args(argv)
    from gui.app import run_gui, take_screenshot

    if args.screenshot:
        return take_screenshot(args.screenshot, args.model, args.example, args.size, args.workspace)
    return run_gui(args.model, args.example)


if __name__ == "__main__":
    sys.exit(main())
