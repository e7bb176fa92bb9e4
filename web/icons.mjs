// Draws the app's icon — three QR finder squares and a few modules, white on
// qrid blue — as templates/static/app/icon.svg and as the PNGs the manifest needs
// (icon-192.png, icon-512.png). The background fills the whole square and the
// drawing stays inside the circle of 40% radius that maskable icons keep (its
// corners are 35% from the centre), so the same files serve as "maskable" icons.
// Run by build.sh; needs only Node's standard library.
import { writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const out = fileURLToPath(new URL("../templates/static/app/", import.meta.url));

const GRID = 24; // the drawing's units
const BLUE = [0x1d, 0x4e, 0xd8];
const WHITE = [0xff, 0xff, 0xff];

// [x, y, size, colour], painted in order.
const finder = (x, y) => [[x, y, 5, WHITE], [x + 1, y + 1, 3, BLUE], [x + 2, y + 2, 1, WHITE]];
const SHAPES = [
  [0, 0, GRID, BLUE],
  ...finder(6, 6), ...finder(13, 6), ...finder(6, 13),
  [13, 13, 2, WHITE], [16, 13, 2, WHITE], [16, 16, 2, WHITE], [13, 16, 1, WHITE], [14, 17, 1, WHITE],
];

const hex = (c) => "#" + c.map((v) => v.toString(16).padStart(2, "0")).join("");

function svg() {
  const rects = SHAPES.map(([x, y, s, c]) => `<rect x="${x}" y="${y}" width="${s}" height="${s}" fill="${hex(c)}"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${GRID} ${GRID}" shape-rendering="crispEdges">${rects.join("")}</svg>\n`;
}

const CRC = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function crc32(buf) {
  let c = -1;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

function png(size) {
  const raw = Buffer.alloc(size * (1 + size * 3)); // filter byte + RGB per row
  for (let y = 0; y < size; y++) {
    const row = y * (1 + size * 3);
    for (let x = 0; x < size; x++) {
      const u = ((x + 0.5) * GRID) / size;
      const v = ((y + 0.5) * GRID) / size;
      let colour = BLUE;
      for (const [sx, sy, s, c] of SHAPES) if (u >= sx && u < sx + s && v >= sy && v < sy + s) colour = c;
      raw.set(colour, row + 1 + x * 3);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

writeFileSync(out + "icon.svg", svg());
for (const size of [192, 512]) writeFileSync(out + `icon-${size}.png`, png(size));
console.log(`icons written to ${out}`);
