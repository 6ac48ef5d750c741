// Renders /openapi.json as a readable page (no third-party code).
"use strict";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
  children.forEach((c) => node.append(c));
  return node;
}

function schemaName(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.oneOf) return schema.oneOf.map(schemaName).join(" or ");
  // OpenAPI 3.1 types may be lists ("string" or null): shown as "string?".
  const types = [].concat(schema.type || "object");
  const nullable = types.includes("null") ? "?" : "";
  const main = types.filter((t) => t !== "null");
  if (main.length === 1 && main[0] === "array") return schemaName(schema.items) + "[]" + nullable;
  return main.join(" or ") + nullable;
}

function propertiesTable(schema) {
  const table = el("table", {}, el("tr", {}, el("th", {}, "field"), el("th", {}, "type"), el("th", {}, "description")));
  const required = new Set(schema.required || []);
  Object.entries(schema.properties || {}).forEach(([name, property]) => {
    table.append(el("tr", {},
      el("td", {}, el("code", {}, name + (required.has(name) ? " *" : ""))),
      el("td", {}, schemaName(property)),
      el("td", {}, property.description || "")));
  });
  return table;
}

async function main() {
  const key = localStorage.getItem("lychee-api-key");
  const response = await fetch("/openapi.json", { headers: key ? { Authorization: "Bearer " + key } : {} });
  if (!response.ok) {
    document.getElementById("operations").textContent =
      "Could not load /openapi.json (HTTP " + response.status + "). If the server has an API key, set it on the web page first.";
    return;
  }
  const spec = await response.json();
  document.getElementById("intro").append(el("p", {}, spec.info.description));
  const operations = document.getElementById("operations");
  operations.textContent = "";
  Object.entries(spec.paths).forEach(([path, item]) => {
    Object.entries(item).forEach(([method, op]) => {
      const box = el("section", { class: "op", id: op.operationId || path });
      box.append(el("h3", {}, el("span", { class: "method " + method }, method.toUpperCase()), path));
      box.append(el("p", {}, el("strong", {}, op.summary || "")));
      if (op.description) box.append(el("p", {}, op.description));
      const body = op.requestBody?.content?.["application/json"]?.schema;
      if (body) box.append(el("p", {}, "Request body: ", el("code", {}, schemaName(body))));
      const responses = el("table", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "meaning"), el("th", {}, "body")));
      Object.entries(op.responses || {}).forEach(([status, r]) => {
        const schema = r.content && Object.values(r.content)[0].schema;
        responses.append(el("tr", {}, el("td", {}, status), el("td", {}, r.description || ""), el("td", {}, schemaName(schema))));
      });
      box.append(responses);
      operations.append(box);
    });
  });
  const schemas = document.getElementById("schemas");
  Object.entries(spec.components.schemas).forEach(([name, schema]) => {
    const box = el("section", { class: "op", id: "schema-" + name }, el("h3", {}, name));
    if (schema.description) box.append(el("p", {}, schema.description));
    box.append(propertiesTable(schema));
    if (schema.example) box.append(el("pre", {}, JSON.stringify(schema.example, null, 2)));
    schemas.append(box);
  });
}
main();
