// `html` tagged templates render Preact elements: no JSX, so no build step.
import { h, Fragment } from "preact";
import htm from "htm";

export const html = htm.bind(h);
export { Fragment };
