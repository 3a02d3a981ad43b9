# syntax=docker/dockerfile:1
# Production image: compiled JavaScript, production dependencies only, non-root, with a health check.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
# Production: give MONGODB_URI, ROSTER_ADMIN_TOKEN and ROSTER_KEY_ENCRYPTION_KEY (or
# ROSTER_KEY_ENCRYPTION_KEY_FILE, e.g. a secret under /run/secrets) at run time (README).
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schemas ./schemas
COPY config ./config
COPY console ./console
COPY bin ./bin
USER node
ENV PORT=8080 HOST=0.0.0.0
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
CMD ["node", "dist/main.js"]
