from gonka_tui.cli import main

raise SystemExit(main())
