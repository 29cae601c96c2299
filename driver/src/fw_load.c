/* Firmware ELF loader: everything the driver checks before a single byte reaches the device.
 * The ELF is parsed with libelf from a private copy; each check names what it found so a user
 * with the wrong file knows why it was refused. */
#include "fw_load.h"

#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#ifndef EF_RISCV_RVC
#define EF_RISCV_RVC 0x0001
#endif
#ifndef EF_RISCV_FLOAT_ABI
#define EF_RISCV_FLOAT_ABI 0x0006
#endif
#ifndef EF_RISCV_RVE
#define EF_RISCV_RVE 0x0008
#endif

/* Largest firmware file accepted: both memories plus generous room for symbols and debug. */
#define FW_MAX_FILE_BYTES (16u << 20)

static int inside(uint64_t addr, uint64_t n, uint32_t base, uint32_t size) {
    return addr >= base && addr + n <= (uint64_t)base + size;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void spk_fw_image_free(spk_fw_image *img) {
    if (!img) return;
    for (unsigned i = 0; i < img->nsegments; i++) free(img->segments[i].data);
    memset(img, 0, sizeof(*img));
}

static spk_status check_header(Elf *elf, const spk_fw_target *t, GElf_Ehdr *eh) {
    size_t nident = 0;
    const char *ident = elf_getident(elf, &nident);
    if (!ident || nident < EI_NIDENT) return spk_fail(SPK_E_FW, "firmware: truncated ELF header");
    if (ident[EI_CLASS] != ELFCLASS32)
        return spk_fail(SPK_E_FW, "firmware: ELF class %d, expected ELF32 (RV32 firmware)",
                        ident[EI_CLASS]);
    if (ident[EI_DATA] != ELFDATA2LSB)
        return spk_fail(SPK_E_FW, "firmware: not little-endian (EI_DATA %d)", ident[EI_DATA]);
    if (!gelf_getehdr(elf, eh)) return spk_fail(SPK_E_FW, "firmware: truncated ELF header");
    if (eh->e_machine != EM_RISCV)
        return spk_fail(SPK_E_FW, "firmware: machine %u, expected EM_RISCV (%u)",
                        (unsigned)eh->e_machine, (unsigned)EM_RISCV);
    if (eh->e_type != ET_EXEC)
        return spk_fail(SPK_E_FW, "firmware: ELF type %u, expected an executable (ET_EXEC)",
                        (unsigned)eh->e_type);
    if (eh->e_flags & (EF_RISCV_RVC | EF_RISCV_FLOAT_ABI | EF_RISCV_RVE))
        return spk_fail(SPK_E_FW,
                        "firmware: ELF flags 0x%x need compressed instructions, a hardware "
                        "float ABI or RV32E; the core is rv32im/ilp32",
                        (unsigned)eh->e_flags);
    if (!inside(eh->e_entry, 4, t->imem_base, t->imem_size) || eh->e_entry % 4)
        return spk_fail(SPK_E_FW,
                        "firmware: entry point 0x%llx not an aligned address in "
                        "instruction memory [0x%x, +0x%x)",
                        (unsigned long long)eh->e_entry, t->imem_base, t->imem_size);
    return SPK_OK;
}

static spk_status add_segment(spk_fw_image *img, const GElf_Phdr *ph, unsigned index,
                              const uint8_t *bytes, size_t n, const spk_fw_target *t) {
    if (ph->p_filesz > ph->p_memsz)
        return spk_fail(SPK_E_FW, "firmware: segment %u has more file bytes than memory bytes",
                        index);
    if (ph->p_offset > n || ph->p_filesz > n - ph->p_offset)
        return spk_fail(SPK_E_FW, "firmware: segment %u runs past the end of the file (truncated?)",
                        index);
    if (!inside(ph->p_vaddr, ph->p_memsz, t->imem_base, t->imem_size) &&
        !inside(ph->p_vaddr, ph->p_memsz, t->dmem_base, t->dmem_size))
        return spk_fail(SPK_E_FW,
                        "firmware: segment %u [0x%llx, +0x%llx) does not fit instruction memory "
                        "[0x%x, +0x%x) or data memory [0x%x, +0x%x)",
                        index, (unsigned long long)ph->p_vaddr, (unsigned long long)ph->p_memsz,
                        t->imem_base, t->imem_size, t->dmem_base, t->dmem_size);
    for (unsigned i = 0; i < img->nsegments; i++) {
        const spk_fw_segment *s = &img->segments[i];
        if (ph->p_vaddr < (uint64_t)s->addr + s->memsz && s->addr < ph->p_vaddr + ph->p_memsz)
            return spk_fail(SPK_E_FW,
                            "firmware: segment %u [0x%llx, +0x%llx) overlaps [0x%x, +0x%x)", index,
                            (unsigned long long)ph->p_vaddr, (unsigned long long)ph->p_memsz,
                            s->addr, s->memsz);
    }
    if (img->nsegments == SPK_FW_MAX_SEGMENTS)
        return spk_fail(SPK_E_FW, "firmware: more than %d loadable segments", SPK_FW_MAX_SEGMENTS);
    spk_fw_segment *s = &img->segments[img->nsegments];
    s->data = malloc(ph->p_filesz ? ph->p_filesz : 1);
    if (!s->data) return spk_fail(SPK_E_NOMEM, "firmware: out of memory");
    memcpy(s->data, bytes + ph->p_offset, ph->p_filesz);
    s->addr = (uint32_t)ph->p_vaddr;
    s->memsz = (uint32_t)ph->p_memsz;
    s->filesz = (uint32_t)ph->p_filesz;
    img->nsegments++;
    return SPK_OK;
}

static spk_status load_segments(Elf *elf, const uint8_t *bytes, size_t n, const GElf_Ehdr *eh,
                                const spk_fw_target *t, spk_fw_image *img) {
    size_t nph = 0;
    if (elf_getphdrnum(elf, &nph) != 0 || nph == 0)
        return spk_fail(SPK_E_FW, "firmware: no program headers (%s)", elf_errmsg(-1));
    if (nph > 64) return spk_fail(SPK_E_FW, "firmware: %zu program headers is absurd", nph);
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph))
            return spk_fail(SPK_E_FW, "firmware: program header %zu unreadable (truncated?)", i);
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
        spk_status st = add_segment(img, &ph, (unsigned)i, bytes, n, t);
        if (st != SPK_OK) return st;
    }
    if (img->nsegments == 0) return spk_fail(SPK_E_FW, "firmware: no loadable segment");
    for (unsigned i = 0; i < img->nsegments; i++) {
        const spk_fw_segment *s = &img->segments[i];
        if (eh->e_entry >= s->addr && eh->e_entry + 4 <= (uint64_t)s->addr + s->filesz) {
            img->entry = (uint32_t)eh->e_entry;
            return SPK_OK;
        }
    }
    return spk_fail(SPK_E_FW, "firmware: entry point 0x%llx is not inside loaded code",
                    (unsigned long long)eh->e_entry);
}

static spk_status check_info(const uint8_t *p, const spk_fw_target *t, spk_fw_info *info) {
    info->magic = le32(p);
    info->info_size = le32(p + 4);
    info->abi_version = le32(p + 8);
    info->regmap_major = le32(p + 12);
    info->regmap_minor = le32(p + 16);
    info->fw_version = le32(p + 20);
    info->commands = le32(p + 24);
    info->reserved = le32(p + 28);
    memcpy(info->name, p + 32, sizeof(info->name));
    if (info->magic != SPK_FW_INFO_MAGIC)
        return spk_fail(SPK_E_FW, "firmware: bad magic 0x%08x in " SPK_FW_INFO_SECTION,
                        info->magic);
    if (info->info_size != sizeof(spk_fw_info))
        return spk_fail(SPK_E_FW, "firmware: info record of %u bytes, expected %zu",
                        info->info_size, sizeof(spk_fw_info));
    if (info->abi_version != SPK_FW_ABI_VERSION)
        return spk_fail(SPK_E_FW, "firmware: built for driver ABI %u, this driver speaks %u",
                        info->abi_version, SPK_FW_ABI_VERSION);
    if (info->regmap_major != t->regmap_major)
        return spk_fail(SPK_E_FW, "firmware: built for register map %u.x, device has %u.x",
                        info->regmap_major, t->regmap_major);
    if (!memchr(info->name, '\0', sizeof(info->name)))
        return spk_fail(SPK_E_FW, "firmware: build name not terminated");
    return SPK_OK;
}

static spk_status find_info(Elf *elf, const uint8_t *bytes, size_t n, const spk_fw_target *t,
                            spk_fw_image *img) {
    size_t shstrndx;
    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        return spk_fail(SPK_E_FW, "firmware: no section name table, so no " SPK_FW_INFO_SECTION);
    for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh)) continue;
        const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
        if (!name || strcmp(name, SPK_FW_INFO_SECTION) != 0) continue;
        if (sh.sh_type != SHT_PROGBITS || sh.sh_size < sizeof(spk_fw_info) || sh.sh_offset > n ||
            n - sh.sh_offset < sizeof(spk_fw_info))
            return spk_fail(SPK_E_FW, "firmware: " SPK_FW_INFO_SECTION " section is truncated");
        return check_info(bytes + sh.sh_offset, t, &img->info);
    }
    return spk_fail(SPK_E_FW,
                    "firmware: no " SPK_FW_INFO_SECTION " section (not spatten-kit firmware?)");
}

spk_status spk_fw_parse(const void *bytes, size_t n, const spk_fw_target *target,
                        spk_fw_image *img) {
    if (!img) return spk_fail(SPK_E_ARG, "firmware: NULL image");
    memset(img, 0, sizeof(*img));
    if (!bytes || !target) return spk_fail(SPK_E_ARG, "firmware: NULL argument");
    if (n < 4 || memcmp(bytes, ELFMAG, 4) != 0)
        return spk_fail(SPK_E_FW, "firmware: not an ELF file");
    if (n > FW_MAX_FILE_BYTES)
        return spk_fail(SPK_E_FW, "firmware: %zu bytes is larger than any firmware", n);
    if (elf_version(EV_CURRENT) == EV_NONE)
        return spk_fail(SPK_E_FW, "firmware: libelf too old (%s)", elf_errmsg(-1));
    /* libelf wants a writable image; parse a private copy. */
    char *copy = malloc(n);
    if (!copy) return spk_fail(SPK_E_NOMEM, "firmware: out of memory");
    memcpy(copy, bytes, n);
    Elf *elf = elf_memory(copy, n);
    spk_status st;
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        st = spk_fail(SPK_E_FW, "firmware: not a valid ELF file (%s)", elf_errmsg(-1));
    } else {
        GElf_Ehdr eh;
        st = check_header(elf, target, &eh);
        if (st == SPK_OK) st = load_segments(elf, (const uint8_t *)copy, n, &eh, target, img);
        if (st == SPK_OK) st = find_info(elf, (const uint8_t *)copy, n, target, img);
    }
    if (elf) elf_end(elf);
    free(copy);
    if (st != SPK_OK) spk_fw_image_free(img);
    return st;
}

spk_status spk_fw_parse_file(const char *path, const spk_fw_target *target, spk_fw_image *img) {
    if (img) memset(img, 0, sizeof(*img));
    if (!path) return spk_fail(SPK_E_ARG, "firmware: NULL path");
    FILE *f = fopen(path, "rb");
    if (!f) return spk_fail(SPK_E_IO, "firmware: cannot open %s", path);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    spk_status st = SPK_OK;
    for (;;) {
        if (n == cap) {
            if (cap >= FW_MAX_FILE_BYTES) {
                st = spk_fail(SPK_E_FW, "firmware: %s is larger than any firmware", path);
                break;
            }
            cap = cap ? cap * 2 : 65536;
            uint8_t *grown = realloc(buf, cap + 1);
            if (!grown) {
                st = spk_fail(SPK_E_NOMEM, "firmware: out of memory");
                break;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (st == SPK_OK && ferror(f)) st = spk_fail(SPK_E_IO, "firmware: cannot read %s", path);
    fclose(f);
    if (st == SPK_OK) st = spk_fw_parse(buf, n, target, img);
    free(buf);
    return st;
}
