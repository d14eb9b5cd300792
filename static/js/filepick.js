// A native file input says "Choose File" / "No file chosen" in the browser's own language, not the page's: each
// one is shown as a button and the chosen file's name in the page's language instead. The input itself stays
// (visually hidden, still focusable and labelled): forms, drag and drop and the tests use it as before.
import { t } from "./i18n.js";

function describe(input) {
  const files = [...(input.files || [])];
  if (!files.length) return t("No file chosen");
  return files.length === 1 ? files[0].name : t("{count} files", { count: String(files.length) });
}

for (const input of document.querySelectorAll('input[type="file"]')) {
  // Inside its label, a click on the button is a click on the label; otherwise the button is a label of its own.
  const holder = document.createElement(input.closest("label") || !input.id ? "span" : "label");
  if (holder.tagName === "LABEL") holder.htmlFor = input.id;
  holder.className = "file-pick";
  const button = Object.assign(document.createElement("span"), { className: "button file-pick-button" });
  button.textContent = input.multiple ? t("Choose files") : t("Choose a file");
  const name = Object.assign(document.createElement("span"), { className: "file-pick-name" });
  holder.append(button, name);
  input.classList.add("file-pick-input");
  input.after(holder);
  const update = () => { name.textContent = describe(input); };
  input.addEventListener("change", update);
  input.form?.addEventListener("reset", () => setTimeout(update)); // after the reset has cleared the input
  update();
}
