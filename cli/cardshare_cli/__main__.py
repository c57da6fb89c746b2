from cardshare_cli.main import main

raise SystemExit(main())
