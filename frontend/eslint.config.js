import { readdirSync } from "node:fs";
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

// Imports flow one way: src/lib, src/components and src/testing → src/features/<one> → src/app.
// The feature list is read from disk so that a new feature is fenced in as soon as it exists.
const FEATURES = readdirSync(new URL("./src/features", import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

const THROUGH_THE_ALIAS = {
  regex: "^\\.\\./",
  message: "Import from outside this folder through the @/ alias, so the import boundaries can see where it goes.",
};
const NOT_THE_APP = {
  group: ["@/app", "@/app/**"],
  message: "src/app composes the features; nothing below it imports from it.",
};

const featureBoundaries = FEATURES.map((feature) => ({
  files: [`src/features/${feature}/**/*.{ts,tsx}`],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          {
            group: FEATURES.filter((other) => other !== feature).flatMap((other) => [`@/features/${other}`, `@/features/${other}/**`]),
            message:
              "Features do not import each other: move what both need to src/lib or src/components, or put them together in src/app.",
          },
          NOT_THE_APP,
          THROUGH_THE_ALIAS,
        ],
      },
    ],
  },
}));

const sharedBoundary = {
  files: ["src/{lib,components,testing}/**/*.{ts,tsx}"],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          { group: ["@/features", "@/features/**"], message: "Shared code serves every feature and so imports none." },
          NOT_THE_APP,
          THROUGH_THE_ALIAS,
        ],
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ["dist", "node_modules", "src/api/schema.d.ts"] },
  {
    files: ["**/*.{ts,tsx}"],
    extends: [js.configs.recommended, ...tseslint.configs.recommended, reactHooks.configs.flat.recommended],
    languageOptions: { globals: globals.browser },
  },
  ...featureBoundaries,
  sharedBoundary,
  {
    files: ["e2e/**/*.mjs"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
);
