// Vite's `?raw` imports: a file's text (the README, read by the security matrix).
declare module "*?raw" {
  const text: string;
  export default text;
}
