// The expert desk. Consultation rooms arrive with the consultation issue; for
// now the page greets the expert (rendered by the server) and sets up the
// shared page chrome.

import { startPage } from "../shell.js";

startPage();
