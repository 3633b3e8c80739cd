from voiceguard.cli import main

raise SystemExit(main())
