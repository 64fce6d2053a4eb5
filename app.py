"""The qa app. The Gradio web UI is coming (issue 3); until then this starts the terminal chat."""

from __future__ import annotations

import sys

from qa.cli import main

if __name__ == "__main__":
    print("qa: the web UI is not built yet; starting the terminal chat (qa chat).", file=sys.stderr)
    sys.exit(main(["chat", *sys.argv[1:]]))
