import sys

from assistant_router.routing.schema import main

sys.exit(main())
