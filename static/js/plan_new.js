// Starting a plan: upload its files (by name, as the plan's `source.file` gives them), then POST /plans with
// the plan's text and `files` (name -> upload_id), and go to the plan's page. The bundled example is fetched
// from the server and uploaded the same way, as a person's own files would be.
import { api, showError, uploadFile } from "./api.js";
import { formatBytes, t } from "./i18n.js";

const status = document.getElementById("plan-new-status");
const error = document.getElementById("plan-new-error");

/** Upload one file, saying which (presigned straight to storage when it is large: api.js uploadFile). */
function upload(file) {
  status.textContent = t("Uploading {name} ({size})…", { name: file.name, size: formatBytes(file.size) });
  return uploadFile(file);
}

async function start(form, planFile, dataFiles) {
  showError(error, null);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const files = {};
    for (const file of dataFiles) {
      if (file.size === 0) throw new Error(t("{name} is empty (0 bytes): there is nothing to load.", { name: file.name }));
      files[file.name] = (await upload(file)).id;
    }
    status.textContent = t("Starting the plan…");
    const body = { plan_text: await planFile.text(), files, dry_run: new FormData(form).get("dry_run") === "on" };
    const plan = await api("POST", "/plans", body);
    window.location.assign(`/plans/${encodeURIComponent(plan.id)}`);
  } catch (failure) {
    status.textContent = "";
    showError(error, failure, t("The plan did not start"));
    button.disabled = false;
  }
}

const example = document.getElementById("example-form");
if (example) {
  example.addEventListener("submit", async (event) => {
    event.preventDefault();
    const names = JSON.parse(example.dataset.files);
    try {
      const fetched = await Promise.all(
        names.map(async (name) => {
          const response = await fetch(example.dataset.base + encodeURIComponent(name));
          if (!response.ok) throw new Error(t("The example's file {name} could not be read ({status}).", { name, status: String(response.status) }));
          return new File([await response.blob()], name, { type: "text/plain" });
        }),
      );
      const [planFile, ...dataFiles] = fetched; // the server lists the plan file first
      await start(example, planFile, dataFiles);
    } catch (failure) {
      showError(error, failure, t("The plan did not start"));
    }
  });
}

const own = document.getElementById("own-form");
own.addEventListener("submit", async (event) => {
  event.preventDefault();
  const planFile = own.elements.plan.files[0];
  if (!planFile) {
    showError(error, new Error(t("Choose the plan file (YAML or JSON) first.")));
    return;
  }
  await start(own, planFile, [...own.elements.files.files]);
});
