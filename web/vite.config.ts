import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Built into dist/web, which `rapport start` serves at /. In development, `npm run dev:web` proxies the
// APIs to a Rapport on :8080.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        // The kit and React change less often than our screens: their own long-cached chunks.
        manualChunks: {
          react: ['react', 'react-dom', 'react-router', '@tanstack/react-query'],
          mantine: ['@mantine/core', '@mantine/hooks', '@mantine/notifications'],
        },
      },
    },
  },
  server: {
    proxy: Object.fromEntries(['/api', '/v1', '/analytics.js', '/analytics-next', '/healthz', '/metrics'].map((p) => [p, 'http://localhost:8080'])),
  },
});
