from motionlib.cli.main import main

raise SystemExit(main())
