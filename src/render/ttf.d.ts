// A font imported with `with { type: "file" }` is a path: Bun embeds the file in the compiled
// binary (a /$bunfs/ path), and scripts/build.mjs has esbuild copy it beside the bundle (a path
// relative to the bundle). See src/render/fonts.ts.
declare module "*.ttf" {
  const path: string;
  export default path;
}
