// A tag input: type a skill, press Enter (or the Add button), and it becomes
// a removable tag. The tags are the field's value.

import { t } from "./config.js";
import { el } from "./dom.js";

/**
 * Binds a text input, an add button and a list element into a tag field.
 * Returns {values(), clear()}.
 */
export function tagField({ input, addButton, list, max = 12 }) {
  const tags = [];

  function render() {
    list.replaceChildren(...tags.map(tagItem));
  }

  function tagItem(tag) {
    const remove = el(
      "button",
      {
        type: "button",
        class: "tag-remove",
        "aria-label": t("apply.skill_remove", { skill: tag }),
      },
      "×",
    );
    remove.addEventListener("click", () => {
      tags.splice(tags.indexOf(tag), 1);
      render();
      input.focus();
    });
    return el("li", { class: "tag" }, el("span", {}, tag), remove);
  }

  function add() {
    const tag = input.value.trim();
    if (tag && !tags.includes(tag) && tags.length < max) {
      tags.push(tag);
      render();
    }
    input.value = "";
  }

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === ",") {
      event.preventDefault();
      add();
    }
  });
  addButton.addEventListener("click", add);

  return {
    values: () => {
      add(); // a skill typed but not yet added still counts
      return [...tags];
    },
    clear: () => {
      tags.length = 0;
      render();
    },
  };
}
