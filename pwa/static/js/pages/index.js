// The landing page: only the shared page chrome (service worker, languages).

import { startPage } from "../shell.js";

startPage();
