// Renders the catalogue's exemplar avatars as SVG, with each face part alone in the avatar's frame.
//
//   npm ci && node render.mjs > avatars.json      (then: python make_exemplars.py avatars.json)
//
// The designs are CC0 1.0 (each package's LICENSE, "Design" section); the DiceBear code is MIT.
// A style's parts are the components that hold the eyes, the nose and the mouth, each with the transform the
// style's own template wraps it in (read from the package's lib/index.js at the pinned version): drawn alone
// in the same viewBox, their ink gives the five landmarks that the face detector cannot find on drawings.
import { createAvatar } from '@dicebear/core';
import * as lorelei from '@dicebear/lorelei';
import * as notionists from '@dicebear/notionists';
import * as openPeeps from '@dicebear/open-peeps';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const SEEDS = Array.from({ length: 10 }, (_, i) => `gpdface-${String(i + 1).padStart(2, '0')}`);

// name → the package, fixed options, and {part: [component, module file, transform]}.
const STYLES = {
  lorelei: {
    style: lorelei, pkg: '@dicebear/lorelei',
    options: { glassesProbability: 0, hairAccessoriesProbability: 0, beardProbability: 0 },
    parts: {
      eyes: ['eyes', 'eyes.js', 'translate(10 -60)'],
      nose: ['nose', 'nose.js', 'translate(10 -60)'],
      mouth: ['mouth', 'mouth.js', 'translate(10 -60)'],
    },
  },
  notionists: {
    style: notionists, pkg: '@dicebear/notionists',
    options: { glassesProbability: 0, gestureProbability: 0, bodyIconProbability: 0, beardProbability: 0 },
    parts: {
      eyes: ['eyes', 'eyes.js', 'translate(610 680)'],
      nose: ['nose', 'nose.js', 'translate(901 668)'],
      mouth: ['lips', 'lips.js', 'translate(791 871)'],
    },
  },
  'open-peeps': {
    style: openPeeps, pkg: '@dicebear/open-peeps',
    // Faces with two eyes and a mouth whose landmarks make_exemplars.py finds (checked on its contact sheet);
    // the others (cyclops, monster, a squint line across both eyes, …) are left out.
    options: {
      maskProbability: 0, accessoriesProbability: 0, facialHairProbability: 0,
      face: ['calm', 'cheeky', 'cute', 'driven', 'eatingHappy', 'hectic', 'smile', 'smileLOL', 'smileTeethGap', 'solemn'],
    },
    parts: { face: ['face', 'face.js', 'translate(315 248)'] },
  },
};

// The package's lib/ folder (its only export is lib/index.js).
const libraryOf = (pkg) => dirname(require.resolve(pkg));

async function partsOf(config, extra, viewBox) {
  const root = join(libraryOf(config.pkg), 'components');
  const colors = Object.fromEntries(
    Object.entries(extra).filter(([k]) => k.endsWith('Color')).map(([k, v]) => [k.slice(0, -5), v]),
  );
  const parts = {};
  for (const [part, [component, file, transform]] of Object.entries(config.parts)) {
    const module = await import(pathToFileURL(join(root, file)));
    const draw = module[component][extra[component]];
    parts[part] = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${viewBox}" fill="none">`
      + `<g transform="${transform}">${draw({}, colors)}</g></svg>`;
  }
  return parts;
}

const avatars = [];
for (const [name, config] of Object.entries(STYLES)) {
  const manifest = join(libraryOf(config.pkg), '..', 'package.json');
  const version = JSON.parse(readFileSync(manifest, 'utf8')).version;
  for (const seed of SEEDS) {
    const options = { seed, backgroundColor: ['ffffff'], ...config.options };
    const { svg, extra } = createAvatar(config.style, options).toJson();
    const viewBox = svg.match(/viewBox="([^"]+)"/)[1];
    avatars.push({ style: name, package: `${config.pkg}@${version}`, seed, options, extra,
                   svg, parts: await partsOf(config, extra, viewBox) });
  }
}
process.stdout.write(JSON.stringify(avatars, null, 1) + '\n');
