from assistant_router.cli.main import main

raise SystemExit(main())
