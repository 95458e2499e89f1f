// The error page: only the shared chrome, so that signing out works from it.

import { startPage } from "../shell.js";

startPage();
