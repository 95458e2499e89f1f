// The photos of an alarm as a strip of thumbnails, each opening the full
// picture. The server serves them only to the citizen, the offered or
// assigned officers and the command room.

import { t } from "./config.js";
import { el } from "./dom.js";

/** Fills `container` with thumbnails of `urls`; hidden when there are none. */
export function showPhotos(container, urls = []) {
  const links = urls.map((url, index) =>
    el(
      "a",
      { class: "photo-thumb", href: url, target: "_blank", rel: "noopener" },
      el("img", {
        src: url,
        alt: t("alarm.photo", { n: index + 1 }),
        loading: "lazy",
      }),
    ),
  );
  container.replaceChildren(...links);
  container.hidden = links.length === 0;
}
