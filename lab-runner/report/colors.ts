import pc from 'picocolors';

/** Colour on a terminal only, and never when NO_COLOR is set (https://no-color.org). */
export type Colors = ReturnType<typeof pc.createColors>;

export function colorsFor(stream: NodeJS.WriteStream): Colors {
  const enabled = !('NO_COLOR' in process.env) && (Boolean(stream.isTTY) || 'FORCE_COLOR' in process.env);
  return pc.createColors(enabled);
}
